// Package cloudrun tests tallyd as Cloud Run runs it, which cannot be done here for real (no
// Docker engine, no Google Cloud): the binary with the environment the Terraform module gives
// its container and nothing on its command line, PORT and K_SERVICE set as Cloud Run sets them.
// It must listen on 0.0.0.0:$PORT, answer gRPC health, honour the token file when one is
// configured, and exit 0 well within Cloud Run's 10 seconds after SIGTERM.
//
// Only tests live here.
package cloudrun
