package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// jwksServer is a real HTTP JWKS endpoint whose keys and health tests
// change while the server runs.
type jwksServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	status   int
	requests atomic.Int64
}

func newJWKSServer(t testing.TB, keys ...*testkit.Key) *jwksServer {
	t.Helper()
	js := &jwksServer{status: 200}
	js.set(t, keys...)
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		js.requests.Add(1)
		js.mu.Lock()
		status, body := js.status, js.body
		js.mu.Unlock()
		if status != 200 {
			http.Error(w, "down", status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(js.Close)
	return js
}

func (js *jwksServer) set(t testing.TB, keys ...*testkit.Key) {
	b := testkit.JWKS(t, keys...)
	js.mu.Lock()
	js.body = b
	js.mu.Unlock()
}

func (js *jwksServer) fail(status int) {
	js.mu.Lock()
	js.status = status
	js.mu.Unlock()
}

// instance is one in-process jwt-authz.
type instance struct {
	t                  testing.TB
	grpcAddr, httpAddr string
	adminAddr          string
	cfgPath            string
	dataDir            string
	conn               *grpc.ClientConn
	cancel             context.CancelFunc
	done               chan error
	logs               *testkit.LogBuffer
}

const listenAny = "grpc_addr: 127.0.0.1:0\nhttp_addr: 127.0.0.1:0\nadmin_addr: 127.0.0.1:0\n"

// start runs serve with the YAML config (listeners on port 0 are added
// when the YAML names none) and waits until it listens.
func start(t testing.TB, yaml string, dataDir string) *instance {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	if !strings.Contains(yaml, "grpc_addr") {
		yaml = listenAny + yaml
	}
	if !strings.Contains(yaml, "data_dir") {
		yaml += "\ndata_dir: " + dataDir + "\n"
	}
	in := &instance{t: t, dataDir: dataDir, cfgPath: filepath.Join(t.TempDir(), "config.yaml"), done: make(chan error, 1), logs: &testkit.LogBuffer{}}
	if err := os.WriteFile(in.cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(in.cfgPath, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	bound := make(chan [3]string, 1)
	log := in.logs.JSONLogger(slog.LevelDebug)
	go func() {
		in.done <- serve(ctx, cfg, in.cfgPath, func(string) (string, bool) { return "", false }, log, bound)
	}()
	select {
	case addrs := <-bound:
		in.grpcAddr, in.httpAddr, in.adminAddr = addrs[0], addrs[1], addrs[2]
	case err := <-in.done:
		t.Fatalf("serve exited: %v\n%s", err, in.logs)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	in.conn, err = grpc.NewClient(in.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.stop)
	return in
}

func (in *instance) stop() {
	if in.cancel == nil {
		return
	}
	in.cancel()
	in.cancel = nil
	_ = in.conn.Close()
	select {
	case <-in.done:
	case <-time.After(30 * time.Second):
		in.t.Error("server did not stop")
	}
	if in.t.Failed() {
		in.t.Logf("server logs:\n%s", in.logs)
	}
}

// check sends one Check over the real gRPC connection.
func (in *instance) check(tok, path string) *authv3.CheckResponse {
	in.t.Helper()
	return in.checkWith(tok, path, nil)
}

// checkWith sends one Check over the real gRPC connection with extra
// request headers.
func (in *instance) checkWith(tok, path string, extra map[string]string) *authv3.CheckResponse {
	in.t.Helper()
	headers := map[string]string{}
	if tok != "" {
		headers["authorization"] = "Bearer " + tok
	}
	for k, v := range extra {
		headers[k] = v
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: path, Host: "api.example.com", Headers: headers},
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(in.conn).Check(ctx, req)
	if err != nil {
		in.t.Fatalf("Check: %v", err)
	}
	return resp
}

func reasonOf(resp *authv3.CheckResponse) string {
	if resp.GetStatus().GetCode() == int32(code.Code_OK) {
		return "ok"
	}
	return resp.GetDynamicMetadata().GetFields()["jwt_authz"].GetStructValue().GetFields()["reason"].GetStringValue()
}

// eventually polls cond until it holds or 15 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 15*time.Second, 20*time.Millisecond, what, cond)
}

func (in *instance) grpcServing() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(in.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// do sends an HTTP request and returns status and body.
func do(t testing.TB, method, url, contentType string, body io.Reader, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (in *instance) adminJSON(method, path string, body any, out any) int {
	in.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	status, b := do(in.t, method, "http://"+in.adminAddr+path, "application/json", r, nil)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			in.t.Fatalf("%s %s: %d %s", method, path, status, b)
		}
	}
	return status
}

// mint asks the server for a new session's token pair.
func (in *instance) mint(sub, scope string) (access, refresh string) {
	in.t.Helper()
	var resp struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if status := in.adminJSON("POST", "/admin/tokens", map[string]any{"sub": sub, "scope": scope}, &resp); status != 200 {
		in.t.Fatalf("mint: status %d", status)
	}
	return resp.AccessToken, resp.RefreshToken
}

// writeAdminToken writes token (with a trailing newline, as editors leave
// it) to a file for admin_token_file and returns its path.
func writeAdminToken(t testing.TB, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
