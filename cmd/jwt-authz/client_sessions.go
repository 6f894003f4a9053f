package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/jwt-authz/jwt-authz/revocation"
	"github.com/jwt-authz/jwt-authz/revocation/adminapi"
)

// sessionsUploadTimeout bounds a session-set revocation from the client's
// side: ten million sessions take a while to send and store.
const sessionsUploadTimeout = 10 * time.Minute

// checkSIDsFileFlags checks the flags that go with --sids-file: --provider
// and --exp, nothing else.
func checkSIDsFileFlags(fs *pflag.FlagSet, file string, exp int64, now time.Time) error {
	for _, name := range []string{"jti", "sid", "sub", "token", "before"} {
		if fs.Changed(name) {
			return usageErrorf("--sids-file goes with --provider and --exp only, not --%s", name)
		}
	}
	if file == "" {
		return usageErrorf("--sids-file must not be empty (- reads standard input)")
	}
	if fs.Changed("provider") {
		if v, _ := fs.GetString("provider"); v == "" {
			return usageErrorf("--provider must not be empty")
		}
	}
	if fs.Changed("exp") && exp <= now.Unix() {
		return usageErrorf("--exp %d is in the past: with --sids-file it is when the revocation may be forgotten", exp)
	}
	return nil
}

// revokeSessions sends the sids of file (one per line, blank lines
// ignored; "-" for standard input) as one session set, streamed as
// NDJSON, and returns the status and the response body.
func (c *adminClient) revokeSessions(ctx context.Context, file, provider string, exp int64, stdin io.Reader) (int, []byte, error) {
	in := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return 0, nil, fmt.Errorf("--sids-file: %w", err)
		}
		defer f.Close()
		in = f
	}
	q := url.Values{}
	if provider != "" {
		q.Set("provider", provider)
	}
	if exp != 0 {
		q.Set("exp", strconv.FormatInt(exp, 10))
	}
	u := c.base + "/admin/revocations/sessions"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, sessionsUploadTimeout)
	defer cancel()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(toNDJSON(pw, in)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, pr)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", adminapi.NDJSONContentType)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// The client's own timeout is for small requests; ctx bounds this one.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w (is the server running?)", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out, err
}

// toNDJSON copies the lines of in to w as JSON strings, one a line,
// leaving out blank lines and refusing one longer than a sid can be.
func toNDJSON(w io.Writer, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	line := 0
	for sc.Scan() {
		line++
		sid := strings.TrimSpace(sc.Text())
		if sid == "" {
			continue
		}
		if len(sid) > revocation.MaxValueBytes {
			return fmt.Errorf("--sids-file line %d is longer than %d bytes", line, revocation.MaxValueBytes)
		}
		q, err := json.Marshal(sid)
		if err != nil {
			return err
		}
		bw.Write(q)
		bw.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("--sids-file line %d: %w", line+1, err)
	}
	return bw.Flush()
}
