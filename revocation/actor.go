package revocation

import "context"

// Actor is who asked for a revocation, for the audit log.
type Actor struct {
	// Name identifies the caller: "admin_api", "issuer", a service
	// account. Never a token. Revocations made without one are attributed
	// to "internal".
	Name string
	// RemoteAddr is the caller's network address, if any.
	RemoteAddr string
}

type actorKey struct{}

// WithActor returns a context that attributes revocations made with it to a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the Actor stored by WithActor, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}
