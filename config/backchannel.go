package config

import "strings"

// BackchannelLogout configures OpenID Connect Back-Channel Logout from one
// provider: POST /oidc/backchannel-logout on http_addr accepts that
// provider's logout tokens and revokes the session (sid) or subject they
// name, for that provider only.
type BackchannelLogout struct {
	Enabled bool `yaml:"enabled"`
	// Audience is the logout token's required "aud" value: the client id
	// under which jwt-authz (or the application it guards) is registered at
	// the identity provider.
	Audience string `yaml:"audience"`
}

// validateBackchannelLogout checks providers[i].backchannel_logout.
func validateBackchannelLogout(p *problems, path string, b BackchannelLogout) {
	path += ".backchannel_logout"
	switch {
	case b.Enabled && b.Audience == "":
		p.add(path+".audience", "must be set when %s.enabled is true: the client id the identity provider puts in the logout token's aud", path)
	case strings.TrimSpace(b.Audience) != b.Audience:
		p.add(path+".audience", "must not start or end with white space (it is compared exactly with \"aud\")")
	}
}
