package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"

	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/issuer"
	"github.com/jwt-authz/jwt-authz/jwks"
)

// validateChecks selects what validateConfig looks at beyond the file.
type validateChecks struct {
	offline    bool // no network
	configOnly bool // the file alone
}

// validateConfig checks the config file at path for what serve needs: the
// file itself, the files and directories it names, the keys those hold,
// and unless offline, each provider's JWKS, fetched once. It prints what it
// found on stdout, and every problem with its key path on stderr.
func validateConfig(ctx context.Context, path string, lookup func(string) (string, bool), checks validateChecks, stdout, stderr io.Writer) error {
	cfg, err := config.LoadEnv(path, lookup)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return err
		}
		fmt.Fprintf(stderr, "%s is not valid:\n", path)
		printProblems(stderr, err)
		return exitStatus(1)
	}
	if checks.configOnly {
		fmt.Fprintf(stdout, "%s is valid\n", path)
		return nil
	}
	var problems []error
	// A file CheckFiles found missing or unreadable is not read again.
	bad := map[string]bool{}
	if err := cfg.CheckFiles(); err != nil {
		for _, e := range unjoin(err) {
			var fe *config.FieldError
			if errors.As(e, &fe) {
				bad[fe.Path] = true
			}
			problems = append(problems, e)
		}
	}
	problems = append(problems, checkKeyFiles(cfg, bad)...)
	problems = append(problems, checkProviderKeys(ctx, cfg, checks.offline, bad, stdout)...)
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "%s is not valid:\n", path)
		printProblems(stderr, errors.Join(problems...))
		return exitStatus(1)
	}
	fmt.Fprintf(stdout, "%s is valid\n", path)
	return nil
}

// unjoin returns the errors joined in err.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// checkKeyFiles parses the issuer's key files that exist (CheckFiles has
// said which do not), as serve will load them.
func checkKeyFiles(cfg *config.Config, bad map[string]bool) []error {
	if !cfg.IssuerEnabled() {
		return nil
	}
	var problems []error
	if cfg.Issuer.SigningKeyFile != "" && !bad["issuer.signing_key_file"] {
		alg, err := issuer.KeyFileAlgorithm(cfg.Issuer.SigningKeyFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Generated on the first start.
		case err != nil:
			problems = append(problems, &config.FieldError{Path: "issuer.signing_key_file", Msg: err.Error()})
		case alg != cfg.Issuer.Algorithm:
			problems = append(problems, &config.FieldError{Path: "issuer.signing_key_file",
				Msg: fmt.Sprintf("%s holds a %s key, but issuer.algorithm is %s", cfg.Issuer.SigningKeyFile, alg, cfg.Issuer.Algorithm)})
		}
	}
	for i, f := range cfg.Issuer.PreviousKeyFiles {
		key := "issuer.previous_key_files[" + strconv.Itoa(i) + "]"
		if bad[key] {
			continue
		}
		if _, err := issuer.KeyFileAlgorithm(f); err != nil {
			problems = append(problems, &config.FieldError{Path: key, Msg: err.Error()})
		}
	}
	return problems
}

// checkProviderKeys loads each provider's keys once, through the same code
// as serve: the jwks_file, and unless offline the JWKS of jwks_uri or
// discovery. It prints the key ids found.
func checkProviderKeys(ctx context.Context, cfg *config.Config, offline bool, bad map[string]bool, stdout io.Writer) []error {
	var problems []error
	quiet := slog.New(slog.DiscardHandler)
	for i, p := range cfg.Providers {
		key := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.JWKSFile != "":
			key += ".jwks_file"
		case p.Discovery:
			key += ".discovery"
		default:
			key += ".jwks_uri"
		}
		if bad[key] {
			continue
		}
		if offline && p.JWKSFile == "" {
			fmt.Fprintf(stdout, "%s (%s): not fetched (--offline)\n", key, p.Name)
			continue
		}
		src, err := jwks.New(jwks.Options{
			Provider:  p.Name,
			Issuer:    p.Issuer,
			JWKSURI:   p.JWKSURI,
			Discovery: p.Discovery,
			File:      p.JWKSFile,
			AllowHTTP: p.AllowHTTP,
			Logger:    quiet,
		})
		if err != nil {
			problems = append(problems, &config.FieldError{Path: key, Msg: err.Error()})
			continue
		}
		err = src.Refresh(ctx)
		st := src.Status()
		src.Stop()
		if err != nil {
			problems = append(problems, &config.FieldError{Path: key, Msg: err.Error()})
			continue
		}
		fmt.Fprintf(stdout, "%s (%s): %d keys from %s: %s\n", key, p.Name, len(st.KeyIDs), st.Location, kidList(st.KeyIDs))
	}
	return problems
}

func kidList(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if id == "" {
			id = "(no kid)"
		}
		out[i] = strconv.Quote(id)
	}
	return strings.Join(out, ", ")
}
