package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// CheckFiles checks what serve will open: the files the configuration names
// exist and are readable (admin_token_file, issuer.signing_key_file,
// issuer.previous_key_files, providers[].jwks_file, revocation.bolt_path,
// the Redis password files),
// and the directories serve writes to (data_dir, and those of a signing key
// or bolt file still to be created) are directories it can write to, or
// can create. It does not parse the files' contents. Call it on a Config
// that Validate accepts; it returns every problem found as *FieldError
// values joined with errors.Join, or nil.
//
// A check that needs the file system to say no (permissions) passes for a
// process that may do anything, such as root.
func (c *Config) CheckFiles() error {
	var p problems
	if c.AdminTokenFile != "" {
		if data, msg := readable(c.AdminTokenFile); msg != "" {
			p.add("admin_token_file", "%s", msg)
		} else if len(bytes.TrimSpace(data)) == 0 {
			p.add("admin_token_file", "%s is empty", c.AdminTokenFile)
		}
	}
	if c.DPoPNonceKeyFile != "" {
		if _, err := ReadDPoPNonceKey(c.DPoPNonceKeyFile); err != nil {
			p.add("dpop_nonce_key_file", "%s", err)
		}
	}
	// serve creates data_dir whatever else it holds.
	if msg := creatableIn(c.dataDir()); msg != "" {
		p.add("data_dir", "%s", msg)
	}
	if c.IssuerEnabled() {
		key := "issuer.signing_key_file"
		if c.Issuer.SigningKeyFile == "" {
			key = "data_dir"
		}
		switch _, err := os.Stat(c.SigningKeyPath()); {
		case missing(err):
			// Generated on the first start.
			if c.Issuer.SigningKeyFile == "" {
				break
			}
			if msg := creatableIn(filepath.Dir(c.SigningKeyPath())); msg != "" {
				p.add(key, "%s does not exist and cannot be created: %s", c.SigningKeyPath(), msg)
			}
		default:
			if _, msg := readable(c.SigningKeyPath()); msg != "" {
				p.add(key, "%s", msg)
			}
		}
		for i, f := range c.Issuer.PreviousKeyFiles {
			if _, msg := readable(f); msg != "" {
				p.add("issuer.previous_key_files["+strconv.Itoa(i)+"]", "%s", msg)
			}
		}
	}
	for i, pr := range c.Providers {
		if pr.JWKSFile == "" {
			continue
		}
		if _, msg := readable(pr.JWKSFile); msg != "" {
			p.add(fmt.Sprintf("providers[%d].jwks_file", i), "%s", msg)
		}
	}
	if c.Revocation.Store == StoreRedis {
		var files [][2]string // key, path
		if s := c.Revocation.RedisSentinel; s != nil {
			files = append(files, [2]string{"revocation.redis_sentinel.password_file", s.PasswordFile},
				[2]string{"revocation.redis_sentinel.sentinel_password_file", s.SentinelPasswordFile})
		}
		if cl := c.Revocation.RedisCluster; cl != nil {
			files = append(files, [2]string{"revocation.redis_cluster.password_file", cl.PasswordFile})
		}
		for _, f := range files {
			if f[1] == "" {
				continue
			}
			if data, msg := readable(f[1]); msg != "" {
				p.add(f[0], "%s", msg)
			} else if len(bytes.TrimSpace(data)) == 0 {
				p.add(f[0], "%s is empty", f[1])
			}
		}
	}
	if c.Revocation.Store == "bolt" || c.Revocation.Store == "" {
		if c.Revocation.BoltPath != "" {
			if msg := writableFile(c.Revocation.BoltPath); msg != "" {
				p.add("revocation.bolt_path", "%s", msg)
			}
		}
	}
	return p.err()
}

// maxCheckedFileBytes bounds what CheckFiles reads of one file.
const maxCheckedFileBytes = 1 << 20

// readable reads the regular file at path, or says why it cannot.
func readable(path string) ([]byte, string) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, pathProblem(path, err)
	}
	if st.IsDir() {
		return nil, path + " is a directory, not a file"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, pathProblem(path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCheckedFileBytes))
	if err != nil {
		return nil, pathProblem(path, err)
	}
	return data, ""
}

// writableFile checks a file serve opens for writing: it exists and is
// writable, or its directory can be created and written to.
func writableFile(path string) string {
	st, err := os.Stat(path)
	switch {
	case missing(err):
		return creatableIn(filepath.Dir(path))
	case err != nil:
		return pathProblem(path, err)
	case st.IsDir():
		return path + " is a directory, not a file"
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return pathProblem(path, err)
	}
	_ = f.Close()
	return ""
}

// creatableIn checks that dir is a directory serve can write files in, or
// that the nearest existing directory above it is one (serve creates the
// rest). It writes and removes a probe file, and creates nothing else.
func creatableIn(dir string) string {
	existing := filepath.Clean(dir)
	for {
		st, err := os.Stat(existing)
		if err == nil {
			if !st.IsDir() {
				if existing == filepath.Clean(dir) {
					return dir + " is not a directory"
				}
				return fmt.Sprintf("%s cannot be created: %s is not a directory", dir, existing)
			}
			break
		}
		if !missing(err) {
			return pathProblem(existing, err)
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return dir + " cannot be created"
		}
		existing = parent
	}
	probe, err := os.CreateTemp(existing, ".jwt-authz-write-check-*")
	if err != nil {
		if existing == filepath.Clean(dir) {
			return fmt.Sprintf("%s is not writable: %v", dir, unwrapPath(err))
		}
		return fmt.Sprintf("%s cannot be created: %s is not writable: %v", dir, existing, unwrapPath(err))
	}
	name := probe.Name()
	_ = probe.Close()
	_ = os.Remove(name)
	return ""
}

// pathProblem says what is wrong with path, naming it once.
func pathProblem(path string, err error) string {
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return path + " does not exist: a parent is not a directory"
	case errors.Is(err, fs.ErrNotExist):
		return path + " does not exist"
	case errors.Is(err, fs.ErrPermission):
		return path + " is not readable: permission denied"
	}
	return path + ": " + unwrapPath(err).Error()
}

// unwrapPath drops the *fs.PathError around err, whose path the message
// names already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// missing reports whether err says that a path does not exist, also when a
// parent of it is a file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
