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

// TestNoLoopback: a server certificate without the loopback names verifies for its DNS names
// only, not for 127.0.0.1, ::1 or localhost.
func TestNoLoopback(t *testing.T) {
	t.Parallel()
	ca := NewCA(t, "ca")
	leaf, err := x509.ParseCertificate(ca.Issue(t, Leaf{Server: true, NoLoopback: true, CN: "tallyd", DNS: []string{"tally.test"}}).TLS(t).Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf.IPAddresses) != 0 {
		t.Errorf("IP SANs %v, want none", leaf.IPAddresses)
	}
	for host, want := range map[string]bool{"tally.test": true, "127.0.0.1": false, "::1": false, "localhost": false} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if (err == nil) != want {
			t.Errorf("verify for %s: %v, want success %v", host, err, want)
		}
	}
}
