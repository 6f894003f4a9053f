package health

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Healthz answers 200 while the process runs.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// Readyz answers 200 when the current State is ready and 503 otherwise,
// with the State as JSON:
//
//	{"status":"not_ready","providers":{"corp":"..."},"store":"...",
//	 "shutdown":"shutting down","optional":{"providers":{"partner":"..."}}}
//
// status is "ready" or "not_ready". Every failing component that gates
// readiness is named: a top-level component as a member whose value is the
// reason, a group's member inside an object named after the group.
// Failing optional components are listed the same way under "optional",
// also while ready. shutdown is present once shutdown has begun.
func (c *Checker) Readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st := c.state.Load()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", strconv.Itoa(len(st.body)))
		if !st.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write(st.body)
	})
}

// renderBody builds the /readyz body of st.
func renderBody(st *State) []byte {
	m := map[string]any{"status": "ready"}
	if !st.Ready {
		m["status"] = "not_ready"
	}
	if st.ShuttingDown {
		m["shutdown"] = ErrShuttingDown.Error()
	}
	for _, p := range st.Problems {
		dst := m
		if p.Optional {
			opt, _ := m["optional"].(map[string]any)
			if opt == nil {
				opt = map[string]any{}
				m["optional"] = opt
			}
			dst = opt
		}
		if p.Group == "" {
			dst[p.Name] = p.Reason
			continue
		}
		g, _ := dst[p.Group].(map[string]string)
		if g == nil {
			g = map[string]string{}
			dst[p.Group] = g
		}
		g[p.Name] = p.Reason
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Only strings and maps of strings: cannot happen.
		b = []byte(`{"status":"not_ready"}`)
	}
	return append(b, '\n')
}
