package health

import (
	"context"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// GRPC is the grpc.health.v1 service to register. Every known service
// reports the Checker's current State: SERVING exactly while /readyz
// answers 200.
func (c *Checker) GRPC() healthpb.HealthServer { return grpcHealth{c: c} }

type grpcHealth struct {
	healthpb.UnimplementedHealthServer
	c *Checker
}

func servingStatus(st *State) healthpb.HealthCheckResponse_ServingStatus {
	if st.Ready {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

// Check answers the current status, or NotFound for an unknown service.
func (g grpcHealth) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if !g.c.services[req.GetService()] {
		return nil, status.Error(codes.NotFound, "unknown service")
	}
	return &healthpb.HealthCheckResponse{Status: servingStatus(g.c.state.Load())}, nil
}

// List answers the status of every known service.
func (g grpcHealth) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	s := servingStatus(g.c.state.Load())
	out := &healthpb.HealthListResponse{Statuses: make(map[string]*healthpb.HealthCheckResponse, len(g.c.services))}
	for name := range g.c.services {
		out.Statuses[name] = &healthpb.HealthCheckResponse{Status: s}
	}
	return out, nil
}

// Watch sends the status at once and then every change of it until the
// client goes away. An unknown service is reported as SERVICE_UNKNOWN.
func (g grpcHealth) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx := stream.Context()
	if !g.c.services[req.GetService()] {
		if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVICE_UNKNOWN}); err != nil {
			return status.Error(codes.Canceled, "stream has ended")
		}
		<-ctx.Done()
		return status.Error(codes.Canceled, "stream has ended")
	}
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	for {
		st := g.c.state.Load()
		if s := servingStatus(st); s != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: s}); err != nil {
				return status.Error(codes.Canceled, "stream has ended")
			}
			last = s
		}
		select {
		case <-st.changed:
		case <-ctx.Done():
			return status.Error(codes.Canceled, "stream has ended")
		}
	}
}
