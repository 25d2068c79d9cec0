package auth

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
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial = big.NewInt(time.Now().UnixNano())

func nextSerial() *big.Int { return serial.Add(serial, big.NewInt(1)) }

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// certSpec says what a leaf certificate is for and names.
type certSpec struct {
	server bool // a server certificate for 127.0.0.1; otherwise a client certificate
	cn     string
	dns    []string
	uris   []string
}

// issue returns a leaf certificate signed by ca, as PEM certificate and key.
func (ca *testCA) issue(t *testing.T, spec certSpec) (certPEM, keyPEM []byte) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: spec.cn},
		DNSNames:     spec.dns,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if spec.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	for _, s := range spec.uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// client issues a client certificate, ready for a tls.Config.
func (ca *testCA) client(t *testing.T, spec certSpec) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(ca.issue(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsSetup is a CA, the files of a server certificate it signed, and its bundle as client CA.
type tlsSetup struct {
	ca    *testCA
	files tlsFiles
}

func newTLSSetup(t *testing.T, withClientCA bool) *tlsSetup {
	t.Helper()
	dir := t.TempDir()
	s := &tlsSetup{ca: newCA(t, "tally test CA")}
	certPEM, keyPEM := s.ca.issue(t, certSpec{server: true, cn: "tallyd"})
	s.files.certFile = filepath.Join(dir, "server.pem")
	s.files.keyFile = filepath.Join(dir, "server-key.pem")
	writeFile(t, s.files.certFile, certPEM)
	writeFile(t, s.files.keyFile, keyPEM)
	if withClientCA {
		s.files.clientCAFile = filepath.Join(dir, "client-ca.pem")
		writeFile(t, s.files.clientCAFile, s.ca.pem)
	}
	return s
}

// clientConfig trusts the setup's CA for the server and presents cert, if given, whatever CAs
// the server asks for: left to itself, a Go client sends no certificate the server's CAs did not
// sign, and the server would never see a forged one.
func (s *tlsSetup) clientConfig(cert ...tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.ca.cert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if len(cert) > 0 {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert[0], nil }
	}
	return cfg
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
