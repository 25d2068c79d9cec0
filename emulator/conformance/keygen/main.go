// Command keygen prints a throwaway service-account key file for the official Go client's
// integration suite, which insists on reading one. Against an emulator the key signs nothing:
// the client dials the emulator without credentials. It is generated fresh on every run so that
// no key, however useless, lives in the repository.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		os.Exit(1)
	}
}

func run() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	id := make([]byte, 20)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]string{
		"type":           "service_account",
		"project_id":     "emulator-conformance",
		"private_key_id": hex.EncodeToString(id),
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "conformance@emulator-conformance.iam.gserviceaccount.com",
		"client_id":      "0",
		"token_uri":      "http://127.0.0.1:1/token", // never called: nothing leaves the machine
	})
}
