package memory_test

import (
	"testing"

	"github.com/jwt-authz/jwt-authz/session"
	"github.com/jwt-authz/jwt-authz/session/memory"
	"github.com/jwt-authz/jwt-authz/session/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) session.Store { return memory.New() })
}
