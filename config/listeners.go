package config

import "time"

// GRPC configures the limits of the gRPC server on grpc_addr.
type GRPC struct {
	MaxConcurrentStreams         int           `yaml:"max_concurrent_streams"`
	MaxRecvMsgBytes              int           `yaml:"max_recv_msg_bytes"`
	KeepaliveMinTime             time.Duration `yaml:"keepalive_min_time"`
	KeepalivePermitWithoutStream *bool         `yaml:"keepalive_permit_without_stream"` // nil = default true
	KeepaliveTime                time.Duration `yaml:"keepalive_time"`
	KeepaliveTimeout             time.Duration `yaml:"keepalive_timeout"`
	MaxConnectionAge             time.Duration `yaml:"max_connection_age"` // 0 = unlimited
}

// HTTP configures the limits of the HTTP server on http_addr.
type HTTP struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	MaxBodyBytes      int           `yaml:"max_body_bytes"`
}

// Defaults of the grpc section, sized for Envoy: one HTTP/2 connection per
// Envoy worker thread carries all of that worker's Checks, and Envoy opens
// another connection when the server's stream limit is reached.
const (
	DefaultGRPCMaxConcurrentStreams         = 1000
	DefaultGRPCMaxRecvMsgBytes              = 4 << 20
	DefaultGRPCKeepaliveMinTime             = 10 * time.Second
	DefaultGRPCKeepalivePermitWithoutStream = true
	DefaultGRPCKeepaliveTime                = 2 * time.Minute
	DefaultGRPCKeepaliveTimeout             = 20 * time.Second
)

// Defaults of the http section.
const (
	DefaultHTTPReadHeaderTimeout = 5 * time.Second
	DefaultHTTPReadTimeout       = 15 * time.Second
	DefaultHTTPWriteTimeout      = 15 * time.Second
	DefaultHTTPIdleTimeout       = 2 * time.Minute
	DefaultHTTPMaxHeaderBytes    = 64 << 10
	DefaultHTTPMaxBodyBytes      = 64 << 10
)

// Bounds of the byte limits.
const (
	minGRPCMaxRecvMsgBytes = 64 << 10
	maxGRPCMaxRecvMsgBytes = 64 << 20
	minHTTPMaxHeaderBytes  = 4 << 10
	maxHTTPMaxHeaderBytes  = 1 << 20
	maxHTTPMaxBodyBytes    = 64 << 20
	// maxGRPCStreams is the largest value HTTP/2 SETTINGS can carry.
	maxGRPCStreams = 1<<31 - 1
)

// KeepalivePermitWithoutStreamOrDefault resolves an unset
// grpc.keepalive_permit_without_stream.
func (g GRPC) KeepalivePermitWithoutStreamOrDefault() bool {
	if g.KeepalivePermitWithoutStream == nil {
		return DefaultGRPCKeepalivePermitWithoutStream
	}
	return *g.KeepalivePermitWithoutStream
}

func (g *GRPC) applyDefaults() {
	if g.MaxConcurrentStreams == 0 {
		g.MaxConcurrentStreams = DefaultGRPCMaxConcurrentStreams
	}
	if g.MaxRecvMsgBytes == 0 {
		g.MaxRecvMsgBytes = DefaultGRPCMaxRecvMsgBytes
	}
	setDuration(&g.KeepaliveMinTime, DefaultGRPCKeepaliveMinTime)
	if g.KeepalivePermitWithoutStream == nil {
		v := DefaultGRPCKeepalivePermitWithoutStream
		g.KeepalivePermitWithoutStream = &v
	}
	setDuration(&g.KeepaliveTime, DefaultGRPCKeepaliveTime)
	setDuration(&g.KeepaliveTimeout, DefaultGRPCKeepaliveTimeout)
}

func (h *HTTP) applyDefaults() {
	setDuration(&h.ReadHeaderTimeout, DefaultHTTPReadHeaderTimeout)
	setDuration(&h.ReadTimeout, DefaultHTTPReadTimeout)
	setDuration(&h.WriteTimeout, DefaultHTTPWriteTimeout)
	setDuration(&h.IdleTimeout, DefaultHTTPIdleTimeout)
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = DefaultHTTPMaxHeaderBytes
	}
	if h.MaxBodyBytes == 0 {
		h.MaxBodyBytes = DefaultHTTPMaxBodyBytes
	}
}

func (c *Config) validateListenerLimits(p *problems) {
	g := &c.GRPC
	intBetween(p, "grpc.max_concurrent_streams", g.MaxConcurrentStreams, 1, maxGRPCStreams)
	intBetween(p, "grpc.max_recv_msg_bytes", g.MaxRecvMsgBytes, minGRPCMaxRecvMsgBytes, maxGRPCMaxRecvMsgBytes)
	positive(p, "grpc.keepalive_min_time", g.KeepaliveMinTime)
	if g.KeepaliveTime < time.Second {
		// grpc-go raises anything shorter to 1s.
		p.add("grpc.keepalive_time", "must be at least 1s")
	}
	positive(p, "grpc.keepalive_timeout", g.KeepaliveTimeout)
	nonNegative(p, "grpc.max_connection_age", g.MaxConnectionAge)

	h := &c.HTTP
	positive(p, "http.read_header_timeout", h.ReadHeaderTimeout)
	positive(p, "http.read_timeout", h.ReadTimeout)
	positive(p, "http.write_timeout", h.WriteTimeout)
	positive(p, "http.idle_timeout", h.IdleTimeout)
	if h.ReadHeaderTimeout > h.ReadTimeout && h.ReadTimeout > 0 {
		p.add("http.read_header_timeout", "must not exceed http.read_timeout (%s)", h.ReadTimeout)
	}
	intBetween(p, "http.max_header_bytes", h.MaxHeaderBytes, minHTTPMaxHeaderBytes, maxHTTPMaxHeaderBytes)
	intBetween(p, "http.max_body_bytes", h.MaxBodyBytes, 1, maxHTTPMaxBodyBytes)
}

// intBetween reports an integer outside [lo, hi].
func intBetween(p *problems, path string, v, lo, hi int) {
	if v < lo || v > hi {
		p.add(path, "must be between %d and %d", lo, hi)
	}
}
