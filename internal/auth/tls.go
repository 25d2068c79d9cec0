package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
)

// ServerTLSConfig returns the TLS configuration of a server with the certificate and key in the
// PEM files certFile and keyFile, TLS 1.2 or later. The pair is read again when either file
// changes, checked at each handshake, so a renewed certificate is served without a restart; a
// pair that fails to load then leaves the previous one in use. With clientCAFile (a PEM bundle),
// clients are asked for a certificate, and one they present must verify against the bundle
// (tls.VerifyClientCertIfGiven): a client without one can still authenticate with a token, and
// an Auth with ClientCerts takes a verified certificate's identity in place of one.
func ServerTLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate file and a key file")
	}
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if err := kp.load(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.get}
	if clientCAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("reading the client CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("client CA bundle %s holds no PEM certificate", clientCAFile)
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	return cfg, nil
}

// keyPair is the server's certificate, reloaded when its files change.
type keyPair struct {
	certFile, keyFile string

	mu   sync.Mutex
	cert *tls.Certificate
	// stamp is what the files looked like when cert was loaded (or last failed to load).
	stamp [2]fileStamp
}

type fileStamp struct {
	size    int64
	modTime int64 // UnixNano
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{size: -1}
	}
	return fileStamp{size: fi.Size(), modTime: fi.ModTime().UnixNano()}
}

func (kp *keyPair) load() error {
	stamp := [2]fileStamp{stampOf(kp.certFile), stampOf(kp.keyFile)}
	cert, err := tls.LoadX509KeyPair(kp.certFile, kp.keyFile)
	kp.stamp = stamp // a pair that fails is not retried until a file changes again
	if err != nil {
		return fmt.Errorf("loading the TLS certificate %s and key %s: %w", kp.certFile, kp.keyFile, err)
	}
	kp.cert = &cert
	return nil
}

func (kp *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if [2]fileStamp{stampOf(kp.certFile), stampOf(kp.keyFile)} != kp.stamp {
		_ = kp.load() // on failure the previous pair stays in use
	}
	return kp.cert, nil
}
