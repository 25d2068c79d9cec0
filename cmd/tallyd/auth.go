package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tally-dev/tally/internal/auth"
)

// tokensPollInterval is how often the tokens file is looked at for a change. A variable so that
// a test can leave reloading to SIGHUP alone.
var tokensPollInterval = auth.DefaultPollInterval

// setupAuth builds the authentication of the configuration: the interceptors that check tokens
// and client certificates (allowing everything when neither is configured), and the server
// options of TLS. The tokens file is reloaded when it changes and on SIGHUP, until ctx ends;
// SIGHUP never stops tallyd.
func setupAuth(ctx context.Context, cfg *Config, log *slog.Logger) (*auth.Auth, []grpc.ServerOption, error) {
	a, err := auth.New(auth.Options{TokensFile: cfg.TokensFile, ClientCerts: cfg.ClientCA != "", Logger: log, PollInterval: tokensPollInterval})
	if err != nil {
		return nil, nil, fmt.Errorf("--tokens-file: %w", err)
	}
	var opts []grpc.ServerOption
	if cfg.TLSCert != "" {
		tc, err := auth.ServerTLSConfig(cfg.TLSCert, cfg.TLSKey, cfg.ClientCA)
		if err != nil {
			return nil, nil, fmt.Errorf("TLS: %w", err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	if cfg.TokensFile != "" {
		go a.Watch(ctx)
	}
	// SIGHUP is caught whatever the configuration: its default action would end the process at
	// once, without the drain of a graceful shutdown, and operators send it to ask for a reload.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if cfg.TokensFile == "" {
					log.Info("SIGHUP: no tokens file to reload (TLS certificates are read again when they change)")
					continue
				}
				_ = a.Reload() // Reload logs its outcome; a bad file keeps the policy in force
			}
		}
	}()
	log.Info("authentication", "tokens_file", cfg.TokensFile != "", "client_certificates", cfg.ClientCA != "",
		"tls", cfg.TLSCert != "", "enabled", a.Enabled())
	return a, opts, nil
}
