package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"google.golang.org/grpc"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/txn"
)

// controlHandler serves the control endpoints Google's emulator has beside gRPC, and passes gRPC
// requests that arrive on an HTTP/2 connection it serves to the gRPC server:
//
//	GET /  answers "Ok" (readiness probes wait for it)
//	DELETE /emulator/v1/projects/{project}/databases/{database}/documents  deletes every
//	       document of the database and answers {}
func controlHandler(engine *txn.Engine, gs *grpc.Server, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Ok\n")
	})
	mux.HandleFunc("DELETE /emulator/v1/projects/{project}/databases/{database}/documents", func(w http.ResponseWriter, r *http.Request) {
		db, err := resource.ParseDatabase("projects/" + r.PathValue("project") + "/databases/" + r.PathValue("database"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, err := clearDatabase(r.Context(), engine, db)
		if err != nil {
			log.ErrorContext(r.Context(), "clearing a database", "database", db.Name(), "deleted", n, "err", err)
			http.Error(w, fmt.Sprintf("deleting the documents of %s: %v", db.Name(), err), http.StatusInternalServerError)
			return
		}
		log.InfoContext(r.Context(), "cleared a database", "database", db.Name(), "deleted", n)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}\n")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			gs.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// clearBatch is how many documents one commit of clearDatabase deletes, Firestore's write limit.
const clearBatch = 500

// clearDatabase deletes every document of db, at any depth, through ordinary commits: writes
// committed before it are deleted, listeners see the deletions, the TTL index follows, and
// commits running beside it are ordered with its own. History is kept, as after deletes in
// production: a read at an earlier read time still sees the documents.
func clearDatabase(ctx context.Context, engine *txn.Engine, db resource.Database) (int, error) {
	deleted := 0
	var after []string
	for {
		snap, err := engine.OpenSnapshot(ctx, db, txn.Selector{})
		if err != nil {
			return deleted, err
		}
		var writes []txn.Write
		var scanErr error
		for v, err := range snap.Documents(nil, "", true, after) {
			if err != nil {
				scanErr = err
				break
			}
			writes = append(writes, txn.Write{Path: v.Path, Delete: true})
			if len(writes) == clearBatch {
				break
			}
		}
		if scanErr != nil {
			return deleted, scanErr
		}
		if len(writes) == 0 {
			return deleted, nil
		}
		_, errs, err := engine.BatchWrite(ctx, db, writes)
		if err != nil {
			return deleted, err
		}
		var failed []error
		for i, e := range errs {
			if e != nil {
				failed = append(failed, fmt.Errorf("%s: %w", db.DocumentName(writes[i].Path), e))
			}
		}
		if len(failed) > 0 {
			return deleted, errors.Join(failed...)
		}
		deleted += len(writes)
		after = writes[len(writes)-1].Path
	}
}
