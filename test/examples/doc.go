// Package examples checks the shipped Envoy and Istio examples, and the
// Istio resources the chart renders, against the real schemas:
// go-control-plane for Envoy bootstraps and istio.io/api for Istio.
package examples
