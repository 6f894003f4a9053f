package dockerfile

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkHealthcheck checks the final stage's HEALTHCHECK: exec form (the
// image has no shell), the binary's own healthcheck of the shipped config,
// and a client timeout shorter than Docker's.
func checkHealthcheck(t *testing.T, args string) {
	t.Helper()
	for _, p := range healthcheckProblems(args) {
		t.Error(p)
	}
}

func healthcheckProblems(args string) []string {
	var probs []string
	fail := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	i := strings.Index(args, "CMD ")
	if i < 0 {
		return append(probs, fmt.Sprintf("HEALTHCHECK %q has no CMD", args))
	}
	opts, cmdJSON := strings.Fields(args[:i]), strings.TrimSpace(args[i+len("CMD "):])
	var cmd []string
	if err := json.Unmarshal([]byte(cmdJSON), &cmd); err != nil {
		return append(probs, fmt.Sprintf("HEALTHCHECK CMD is not in exec (JSON) form: %v: %s", err, cmdJSON))
	}
	if len(cmd) < 2 || cmd[0] != "/jwt-authz" || cmd[1] != "healthcheck" {
		return append(probs, fmt.Sprintf("HEALTHCHECK CMD = %q, want /jwt-authz healthcheck ...", cmd))
	}
	if j := slices.Index(cmd, "--config"); j < 0 || j+1 >= len(cmd) || cmd[j+1] != "/etc/jwt-authz/config.yaml" {
		fail("HEALTHCHECK does not read the image's config: %q", cmd)
	}
	flags := map[string]time.Duration{}
	re := regexp.MustCompile(`^--(interval|timeout|start-period)=(\S+)$`)
	for _, o := range opts {
		m := re.FindStringSubmatch(o)
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[2])
		if err != nil {
			return append(probs, fmt.Sprintf("HEALTHCHECK %s: %v", o, err))
		}
		flags[m[1]] = d
	}
	if flags["interval"] == 0 || flags["timeout"] == 0 {
		return append(probs, fmt.Sprintf("HEALTHCHECK sets no --interval and --timeout: %q", opts))
	}
	client := 3 * time.Second // the healthcheck command's default
	if j := slices.Index(cmd, "--timeout"); j >= 0 && j+1 < len(cmd) {
		d, err := time.ParseDuration(cmd[j+1])
		if err != nil {
			return append(probs, fmt.Sprintf("healthcheck --timeout: %v", err))
		}
		client = d
	}
	if client >= flags["timeout"] {
		fail("healthcheck --timeout %s is not below HEALTHCHECK --timeout %s: Docker would kill it first", client, flags["timeout"])
	}
	return probs
}

func TestCheckHealthcheck(t *testing.T) {
	good := `--interval=15s --timeout=5s CMD ["/jwt-authz", "healthcheck", "--config", "/etc/jwt-authz/config.yaml", "--timeout", "4s"]`
	checkHealthcheck(t, good)
	for _, bad := range []string{
		`--interval=15s --timeout=5s CMD /jwt-authz healthcheck`,
		`--interval=15s --timeout=5s CMD ["wget", "-q", "http://127.0.0.1:8080/readyz"]`,
		`--interval=15s --timeout=5s CMD ["/jwt-authz", "healthcheck", "--config", "/etc/jwt-authz/config.yaml", "--timeout", "6s"]`,
	} {
		if len(healthcheckProblems(bad)) == 0 {
			t.Errorf("accepted %s", bad)
		}
	}
}
