package auth

import (
	"context"
	"crypto/x509"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// verifiedLeaf returns the caller's client certificate if the TLS handshake verified it against
// the client CA, or nil. Only a verified chain counts: a certificate the client merely presented
// (PeerCertificates) proves nothing.
func verifiedLeaf(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil
	}
	chains := info.State.VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return nil
	}
	return chains[0][0] // every verified chain starts with the same leaf
}

// certIdentities are the names a cert_identity may match: the Subject Common Name and every DNS
// and URI subject alternative name.
func certIdentities(c *x509.Certificate) []string {
	var ids []string
	if c.Subject.CommonName != "" {
		ids = append(ids, c.Subject.CommonName)
	}
	ids = append(ids, c.DNSNames...)
	for _, u := range c.URIs {
		ids = append(ids, u.String())
	}
	return ids
}

// certName is the one name that identifies a certificate in logs and in a principal trusted
// without a policy: its first identity.
func certName(c *x509.Certificate) string {
	if ids := certIdentities(c); len(ids) > 0 {
		return ids[0]
	}
	return "certificate with serial " + c.SerialNumber.String()
}
