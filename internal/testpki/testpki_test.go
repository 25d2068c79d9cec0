package testpki

import (
	"crypto/x509"
	"testing"
)

// TestIssuedCertificatesVerify: a leaf verifies against its own CA for its use and names, and
// not against another CA.
func TestIssuedCertificatesVerify(t *testing.T) {
	t.Parallel()
	ca, other := NewCA(t, "ca"), NewCA(t, "other")
	for _, tc := range []struct {
		name  string
		leaf  Leaf
		usage x509.ExtKeyUsage
		host  string
	}{
		{"server", Leaf{Server: true, CN: "tallyd"}, x509.ExtKeyUsageServerAuth, "127.0.0.1"},
		{"server by name", Leaf{Server: true, CN: "tallyd"}, x509.ExtKeyUsageServerAuth, "localhost"},
		{"client", Leaf{CN: "ops", DNS: []string{"ops.example"}}, x509.ExtKeyUsageClientAuth, "ops.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := ca.Issue(t, tc.leaf)
			leaf, err := x509.ParseCertificate(pair.TLS(t).Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			opts := x509.VerifyOptions{Roots: ca.Pool(), DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{tc.usage}}
			if _, err := leaf.Verify(opts); err != nil {
				t.Errorf("against its CA: %v", err)
			}
			opts.Roots = other.Pool()
			if _, err := leaf.Verify(opts); err == nil {
				t.Error("verified against another CA")
			}
		})
	}
}
