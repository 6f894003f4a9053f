package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/issuer"
)

// adminTokenBytes is the entropy of a generated admin token (256 bits).
const adminTokenBytes = 32

var (
	secretNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	secretKeyRE  = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// keygenOptions are the flags of keygen.
type keygenOptions struct {
	configPath, algorithm, name, namespace, signingKeyKey, adminTokenKey string
}

const keygenLong = `Print a Kubernetes Secret manifest holding a new signing key for the
built-in issuer (PEM, for the algorithm of --algorithm, else the config's
issuer.algorithm, else EdDSA) and a new random admin token.

The chart generates both at install time and keeps them with lookup, which
tools that render without cluster access (Argo CD, Flux, helm template)
cannot do: every render would rotate them. Make them once with keygen,
encrypt the manifest (sealed-secrets, SOPS, External Secrets), commit it, and
set the chart's adminToken.existingSecret and issuer.existingSecret to its
name. Never commit the printed manifest unencrypted.`

const keygenExample = `  jwt-authz keygen --namespace auth | kubeseal -o yaml > jwt-authz-keys.sealed.yaml
  jwt-authz keygen --algorithm ES256 --name jwt-authz-keys > secret.yaml && sops -e -i secret.yaml`

// newKeygenCmd is "jwt-authz keygen": it prints a Kubernetes Secret manifest
// with a new signing key and admin token, for GitOps tools that render the
// chart without cluster access.
func newKeygenCmd(g *globalFlags) *cobra.Command {
	var o keygenOptions
	cmd := &cobra.Command{
		Use:     "keygen",
		Short:   "Print a Secret manifest with a new signing key and admin token",
		Long:    keygenLong,
		Example: keygenExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.configPath = g.config()
			manifest, err := keygenManifest(o)
			if err != nil {
				return err
			}
			_, err = io.WriteString(cmd.OutOrStdout(), manifest)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.algorithm, "algorithm", "", "signing algorithm: EdDSA, ES256 or RS256 (default: the config's issuer.algorithm, else "+config.DefaultIssuerAlgorithm+")")
	fs.StringVar(&o.name, "name", "jwt-authz-keys", "name of the Secret")
	fs.StringVar(&o.namespace, "namespace", "", "namespace of the Secret (omitted when empty)")
	fs.StringVar(&o.signingKeyKey, "signing-key-key", "signing-key.pem", "key of the signing key in the Secret (chart value issuer.secretKey)")
	fs.StringVar(&o.adminTokenKey, "admin-token-key", "token", "key of the admin token in the Secret (chart value adminToken.secretKey)")
	return cmd
}

// keygenManifest checks the options and builds the Secret manifest.
func keygenManifest(o keygenOptions) (string, error) {
	alg := o.algorithm
	if alg == "" && o.configPath != "" {
		c, err := config.Load(o.configPath)
		if err != nil {
			return "", err
		}
		alg = c.Issuer.Algorithm
	}
	if alg == "" {
		alg = config.DefaultIssuerAlgorithm
	}
	if !secretNameRE.MatchString(o.name) || len(o.name) > 253 {
		return "", usageErrorf("--name %q is not a valid Secret name", o.name)
	}
	if o.namespace != "" && (!secretNameRE.MatchString(o.namespace) || len(o.namespace) > 63 || strings.Contains(o.namespace, ".")) {
		return "", usageErrorf("--namespace %q is not a valid namespace", o.namespace)
	}
	for flagName, k := range map[string]string{"--signing-key-key": o.signingKeyKey, "--admin-token-key": o.adminTokenKey} {
		if !secretKeyRE.MatchString(k) {
			return "", usageErrorf("%s %q is not a valid Secret key", flagName, k)
		}
	}
	if o.signingKeyKey == o.adminTokenKey {
		return "", usageErrorf("--signing-key-key and --admin-token-key are both %q", o.signingKeyKey)
	}
	keyPEM, err := issuer.GenerateKeyPEM(alg)
	if err != nil {
		return "", err
	}
	raw := make([]byte, adminTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)

	var b strings.Builder
	fmt.Fprintf(&b, "# jwt-authz keygen: signing key (%s) for the built-in issuer, and an admin token.\n", alg)
	b.WriteString("# Encrypt it before it is committed (sealed-secrets, SOPS, External Secrets);\n")
	b.WriteString("# never commit it as it is. Chart values that use it:\n")
	fmt.Fprintf(&b, "#   adminToken.existingSecret: %s\n", o.name)
	fmt.Fprintf(&b, "#   adminToken.secretKey: %s\n", o.adminTokenKey)
	fmt.Fprintf(&b, "#   issuer.existingSecret: %s\n", o.name)
	fmt.Fprintf(&b, "#   issuer.secretKey: %s\n", o.signingKeyKey)
	b.WriteString("apiVersion: v1\nkind: Secret\nmetadata:\n")
	fmt.Fprintf(&b, "  name: %s\n", o.name)
	if o.namespace != "" {
		fmt.Fprintf(&b, "  namespace: %s\n", o.namespace)
	}
	b.WriteString("  labels:\n    app.kubernetes.io/name: jwt-authz\n")
	b.WriteString("type: Opaque\ndata:\n")
	data := [][2]string{
		{o.signingKeyKey, base64.StdEncoding.EncodeToString(keyPEM)},
		{o.adminTokenKey, base64.StdEncoding.EncodeToString([]byte(token))},
	}
	if data[0][0] > data[1][0] {
		data[0], data[1] = data[1], data[0]
	}
	for _, kv := range data {
		fmt.Fprintf(&b, "  %s: %s\n", kv[0], kv[1])
	}
	return b.String(), nil
}
