package redisserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLS is a certificate authority made for one test and a certificate it
// signed for 127.0.0.1, in files for redis-server, and the client
// configuration that trusts it.
type TLS struct {
	CAFile, CertFile, KeyFile string
	// Client verifies the servers against the test's authority, TLS 1.2
	// or later. Each user gets its own Clone.
	Client *tls.Config
}

// NewTLS makes the authority and the certificate. The certificate serves
// both ends, since Redis nodes also connect to each other (replication,
// the Cluster bus, Sentinel) with it.
func NewTLS(t testing.TB) *TLS {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "jwt-authz test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	x := &TLS{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "cert.pem"),
		KeyFile:  filepath.Join(dir, "key.pem"),
	}
	for path, block := range map[string]*pem.Block{
		x.CAFile:   {Type: "CERTIFICATE", Bytes: caDER},
		x.CertFile: {Type: "CERTIFICATE", Bytes: leafDER},
		x.KeyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	x.Client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return x
}

// serverArgs are redis-server's TLS settings: TLS on every link
// (clients, replication, the Cluster bus), clients without certificates.
func (x *TLS) serverArgs() []string {
	return []string{
		"--tls-cert-file", x.CertFile,
		"--tls-key-file", x.KeyFile,
		"--tls-ca-cert-file", x.CAFile,
		"--tls-auth-clients", "no",
		"--tls-replication", "yes",
	}
}

// clientConfig is x's client configuration, or nil for a nil x.
func (x *TLS) clientConfig() *tls.Config {
	if x == nil {
		return nil
	}
	return x.Client.Clone()
}
