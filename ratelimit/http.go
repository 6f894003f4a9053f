package ratelimit

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts refused requests.
type Metrics struct {
	limited *prometheus.CounterVec
}

// NewMetrics registers jwt_authz_rate_limited_total{endpoint} with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{limited: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwt_authz_rate_limited_total",
		Help: "Requests to the token and back-channel logout endpoints refused with 429 because their client, or all clients together, went over the endpoint's rate limit, by endpoint.",
	}, []string{"endpoint"})}
	reg.MustRegister(m.limited)
	return m
}

// HTTP applies a Limiter to HTTP handlers.
type HTTP struct {
	// Limiter holds the buckets; nil means no limit.
	Limiter *Limiter
	// ClientIPHeader, when set, names a header whose last address is the
	// client (a trusted proxy appends it); otherwise, or when the header
	// holds no address, the client is the TCP peer.
	ClientIPHeader string
	// Metrics counts refusals; nil counts nothing.
	Metrics *Metrics
}

// Wrap returns next behind the limit. endpoint names it in the metric
// (a fixed name such as "token", never a request path). A refused request
// gets 429 with Retry-After and an RFC 6749 JSON error, "slow_down",
// before next runs and before its body is read; the description says
// whether the client's own bucket or the overall one is empty.
func (h HTTP) Wrap(endpoint string, next http.Handler) http.Handler {
	if h.Limiter == nil {
		return next
	}
	var limited prometheus.Counter
	if h.Metrics != nil {
		limited = h.Metrics.limited.WithLabelValues(endpoint)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, wait, overall := h.Limiter.allow(h.client(r))
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		if limited != nil {
			limited.Inc()
		}
		secs := strconv.Itoa(RetryAfterSeconds(wait))
		hdr := w.Header()
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("Retry-After", secs)
		// The body is left unread; net/http drains a small one and keeps
		// the connection, cheaper than making the client reconnect.
		w.WriteHeader(http.StatusTooManyRequests)
		from := "from this address"
		if overall {
			from = "to this endpoint"
		}
		_, _ = w.Write([]byte(`{"error":"slow_down","error_description":"too many requests ` + from + `; retry after ` + secs + ` s"}` + "\n"))
	})
}

// client returns the address whose bucket r uses.
func (h HTTP) client(r *http.Request) netip.Addr {
	if h.ClientIPHeader != "" {
		if a, ok := lastAddr(r.Header.Values(h.ClientIPHeader)); ok {
			return a
		}
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a
}

// lastAddr parses the last element of a comma-separated header list (the
// one the nearest proxy appended): an IP address, optionally with a port.
func lastAddr(values []string) (netip.Addr, bool) {
	if len(values) == 0 {
		return netip.Addr{}, false
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	v = strings.TrimSpace(v)
	if a, err := netip.ParseAddr(v); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}
