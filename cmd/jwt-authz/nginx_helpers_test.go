package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// exampleNginxDir holds the documented nginx configuration; the nginx tests
// run exactly these files.
var exampleNginxDir = filepath.Join("..", "..", "examples", "nginx")

// nginxBinary finds nginx (Debian installs it in /usr/sbin, which is not
// on every user's PATH). Without one the test is skipped, except in CI
// (CI=true), where .ci/run installs nginx-light and a missing nginx is a
// failure.
func nginxBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			bin, err = "/usr/sbin/nginx", nil
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed; .ci/run installs Debian's nginx-light")
		}
		t.Skip("nginx is not installed (apt-get install nginx-light): skipping the nginx integration test")
	}
	return bin
}

// nginxServer is one nginx process running the example configuration.
type nginxServer struct {
	addr string // 127.0.0.1:port
	dir  string
}

// nginxConfig turns examples/nginx/nginx.conf into a configuration that
// runs unprivileged in dir: the addresses of jwt-authz, the application
// and the listener templated in, the process kept in the foreground, logs,
// pid and temp files in dir. Every replaced line must be found, so the
// example cannot drift from what the test runs.
func nginxConfig(t *testing.T, example, dir, authzAddr, appAddr string, port int) string {
	t.Helper()
	conf := example
	for _, r := range []struct{ old, new string }{
		{"worker_processes auto;", fmt.Sprintf("worker_processes 1;\ndaemon off;\nmaster_process off;\npid %s;\nerror_log %s info;",
			filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))},
		{"server 127.0.0.1:8080;", "server " + authzAddr + ";"},
		{"server 127.0.0.1:3000;", "server " + appAddr + ";"},
		{"listen 8000;", fmt.Sprintf("listen 127.0.0.1:%d;", port)},
		{"http {", "http {\n    access_log " + filepath.Join(dir, "access.log") + ";" + tempPaths(dir)},
	} {
		if n := strings.Count(conf, r.old); n != 1 {
			t.Fatalf("examples/nginx/nginx.conf: %q occurs %d times, want once", r.old, n)
		}
		conf = strings.Replace(conf, r.old, r.new, 1)
	}
	return conf
}

// tempPaths moves nginx's temp directories (compiled in under /var/lib)
// into dir.
func tempPaths(dir string) string {
	var b strings.Builder
	for _, p := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "\n    %s_temp_path %s;", p, filepath.Join(dir, p+"_temp"))
	}
	return b.String()
}

// startNginx runs nginx with examples/nginx/nginx.conf (templated) and the
// snippet examples/nginx/jwt-authz.conf (verbatim) in front of jwt-authz
// and app, and waits until it accepts connections. nginx cannot bind port
// 0: a free port is picked, and the whole start is retried when another
// process took it first.
func startNginx(t *testing.T, authzAddr, appAddr string) *nginxServer {
	t.Helper()
	bin := nginxBinary(t)
	example, err := os.ReadFile(filepath.Join(exampleNginxDir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	snippet, err := os.ReadFile(filepath.Join(exampleNginxDir, "jwt-authz.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		port := freePort(t)
		conf := nginxConfig(t, string(example), dir, authzAddr, appAddr, port)
		if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "jwt-authz.conf"), snippet, 0o600); err != nil {
			t.Fatal(err)
		}
		ngx := &nginxServer{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
		err := ngx.run(t, bin)
		if err == nil {
			return ngx
		}
		if errors.Is(err, errPortTaken) && attempt < 5 {
			t.Logf("nginx: port %d taken, retrying", port)
			continue
		}
		t.Fatalf("nginx did not start: %v\n%s", err, ngx.errorLog())
	}
}

var errPortTaken = errors.New("address already in use")

// run starts the process and waits for it to accept connections, or for
// it to exit (errPortTaken when it could not bind). A started nginx is
// stopped by t.Cleanup.
func (n *nginxServer) run(t *testing.T, bin string) error {
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-p", n.dir, "-c", filepath.Join(n.dir, "nginx.conf"), "-e", filepath.Join(n.dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(20 * time.Second)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case err := <-exited:
			log := stderr.String() + n.errorLog()
			if strings.Contains(log, "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("nginx exited: %v\n%s", err, stderr.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("nginx did not accept connections within 20s")
		case <-poll.C:
		}
		// nginx writes its pid file once it has bound its listener: a
		// connection before that could reach whatever else holds the port.
		if pid, _ := os.ReadFile(filepath.Join(n.dir, "nginx.pid")); strings.TrimSpace(string(pid)) != strconv.Itoa(cmd.Process.Pid) {
			continue
		}
		c, err := net.DialTimeout("tcp", n.addr, time.Second)
		if err != nil {
			continue
		}
		_ = c.Close()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				t.Error("nginx did not stop on SIGTERM")
			}
			if t.Failed() {
				t.Logf("nginx error log:\n%s", n.errorLog())
			}
		})
		return nil
	}
}

func (n *nginxServer) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// echoApp is the application behind nginx: it answers 200 and remembers
// each request it served.
type echoApp struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	method, uri string
	header      http.Header
}

func newEchoApp(t *testing.T) *echoApp {
	a := &echoApp{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, seenRequest{method: r.Method, uri: r.RequestURI, header: r.Header.Clone()})
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "app: "+r.Method+" "+r.RequestURI+"\n")
	}))
	t.Cleanup(a.Close)
	return a
}

// take returns and forgets the requests served so far.
func (a *echoApp) take() []seenRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.seen
	a.seen = nil
	return s
}

// nginxResponse is what the client got from nginx.
type nginxResponse struct {
	status int
	header http.Header
	body   string
}

// send sends method rawURI (written to the wire as it is: dot segments
// and escapes are not cleaned) with Host host and the headers.
func (n *nginxServer) send(t *testing.T, method, rawURI, host string, header map[string]string) nginxResponse {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = rawURI
	req.Host = host
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURI, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return nginxResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}
