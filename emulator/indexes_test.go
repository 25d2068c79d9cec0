package emulator_test

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/emulator/index"
)

// indexedClient starts an emulator that checks indexes against the declaration json ("" for
// none: the automatic single-field indexes only), in memory or on disk.
func indexedClient(t *testing.T, durable bool, check bool, json string) *firestore.Client {
	t.Helper()
	opts := emulator.Options{CheckIndexes: check}
	if durable {
		opts.DataDir = t.TempDir()
	}
	if json != "" {
		f, err := index.Parse([]byte(json))
		if err != nil {
			t.Fatal(err)
		}
		opts.Indexes = f
	}
	em := emulatortest.Start(t, opts)
	return emulatortest.NewClient(t, em.Addr(), project)
}

const (
	// The index the query "x == 1 order by q" needs, as the error names it.
	xqIndex = `{"collectionGroup":"items","queryScope":"COLLECTION","fields":[{"fieldPath":"x","order":"ASCENDING"},{"fieldPath":"q","order":"ASCENDING"}]}`
	xqFile  = `{"indexes": [` + xqIndex + `]}`
)

func TestIndexChecks(t *testing.T) {
	t.Parallel()
	type query func(ctx context.Context, c *firestore.Client) error
	docs := func(q firestore.Query) query {
		return func(ctx context.Context, c *firestore.Client) error {
			_, err := q.Documents(ctx).GetAll()
			return err
		}
	}
	items := func(c *firestore.Client) *firestore.CollectionRef { return c.Collection("items") }
	tests := []struct {
		name     string
		check    bool
		json     string
		run      func(c *firestore.Client) query
		wantCode codes.Code
		wantMsg  string // a substring of the error: the index or override to add
	}{
		{"equality and order on another field, no declaration", true, "",
			func(c *firestore.Client) query { return docs(items(c).Where("x", "==", 1).OrderBy("q", firestore.Asc)) },
			codes.FailedPrecondition, `The query requires an index. Add it to firestore.indexes.json under "indexes": ` + xqIndex},
		{"the same query with the index declared", true, xqFile,
			func(c *firestore.Client) query { return docs(items(c).Where("x", "==", 1).OrderBy("q", firestore.Asc)) },
			codes.OK, ""},
		{"the same query read backwards", true, xqFile,
			func(c *firestore.Client) query {
				return docs(items(c).Where("x", "==", 1).OrderBy("q", firestore.Desc))
			},
			codes.OK, ""},
		{"limit to last reverses the order", true, xqFile,
			func(c *firestore.Client) query {
				return docs(items(c).Where("x", "==", 1).OrderBy("q", firestore.Asc).LimitToLast(1))
			},
			codes.OK, ""},
		{"the index serves its collection group only", true, xqFile,
			func(c *firestore.Client) query {
				return docs(c.Collection("other").Where("x", "==", 1).OrderBy("q", firestore.Asc))
			},
			codes.FailedPrecondition, `"collectionGroup":"other"`},
		{"checks off", false, "",
			func(c *firestore.Client) query { return docs(items(c).Where("x", "==", 1).OrderBy("q", firestore.Asc)) },
			codes.OK, ""},
		{"single-field queries need no declaration", true, "",
			func(c *firestore.Client) query {
				return docs(items(c).Where("q", ">=", "a").OrderBy("q", firestore.Desc))
			},
			codes.OK, ""},
		{"equalities on several fields merge", true, "",
			func(c *firestore.Client) query { return docs(items(c).Where("x", "==", 1).Where("q", "==", "b")) },
			codes.OK, ""},
		{"inequalities on two fields", true, "",
			func(c *firestore.Client) query { return docs(items(c).Where("x", ">", 0).Where("q", ">", "a")) },
			codes.FailedPrecondition, `"fields":[{"fieldPath":"q","order":"ASCENDING"},{"fieldPath":"x","order":"ASCENDING"}]`},
		{"an exempt field", true, `{"fieldOverrides": [{"collectionGroup": "items", "fieldPath": "x", "indexes": []}]}`,
			func(c *firestore.Client) query { return docs(items(c).Where("x", "==", 1)) },
			codes.FailedPrecondition, `"fieldOverrides": {"collectionGroup":"items","fieldPath":"x","indexes":[{"queryScope":"COLLECTION","order":"ASCENDING"}]}`},
		{"the exemption is per collection group", true, `{"fieldOverrides": [{"collectionGroup": "items", "fieldPath": "x", "indexes": []}]}`,
			func(c *firestore.Client) query { return docs(c.Collection("other").Where("x", "==", 1)) },
			codes.OK, ""},
		{"a collection group query on a field", true, "",
			func(c *firestore.Client) query { return docs(c.CollectionGroup("items").Where("x", "==", 1)) },
			codes.FailedPrecondition, `{"queryScope":"COLLECTION_GROUP","order":"ASCENDING"}`},
		{"a collection group query with its override", true,
			`{"fieldOverrides": [{"collectionGroup": "items", "fieldPath": "x", "indexes": [{"queryScope": "COLLECTION_GROUP", "order": "ASCENDING"}]}]}`,
			func(c *firestore.Client) query { return docs(c.CollectionGroup("items").Where("x", "==", 1)) },
			codes.OK, ""},
		{"a collection group query with the collection's index", true, xqFile,
			func(c *firestore.Client) query {
				return docs(c.CollectionGroup("items").Where("x", "==", 1).OrderBy("q", firestore.Asc))
			},
			codes.FailedPrecondition, `"queryScope":"COLLECTION_GROUP"`},
		{"a collection group query without fields", true, "",
			func(c *firestore.Client) query { return docs(c.CollectionGroup("items").Query) },
			codes.OK, ""},
		{"sum filtered by another field", true, "",
			func(c *firestore.Client) query {
				return func(ctx context.Context, c *firestore.Client) error {
					q := items(c).Where("q", "==", "b")
					_, err := q.NewAggregationQuery().WithSum("x", "s").Get(ctx)
					return err
				}
			},
			codes.FailedPrecondition, `"fields":[{"fieldPath":"q","order":"ASCENDING"},{"fieldPath":"x","order":"ASCENDING"}]`},
		{"sum with its index", true, `{"indexes": [{"collectionGroup": "items", "queryScope": "COLLECTION", "fields": [{"fieldPath": "q", "order": "ASCENDING"}, {"fieldPath": "x", "order": "DESCENDING"}]}]}`,
			func(c *firestore.Client) query {
				return func(ctx context.Context, c *firestore.Client) error {
					q := items(c).Where("q", "==", "b")
					_, err := q.NewAggregationQuery().WithSum("x", "s").WithAvg("x", "a").WithCount("n").Get(ctx)
					return err
				}
			},
			codes.OK, ""},
		{"count needs no more than its query", true, "",
			func(c *firestore.Client) query {
				return func(ctx context.Context, c *firestore.Client) error {
					q := items(c).Where("q", "==", "b").Where("x", "==", 1)
					_, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
					return err
				}
			},
			codes.OK, ""},
		{"an or of branches each needing an index", true, xqFile,
			func(c *firestore.Client) query {
				return docs(items(c).WhereEntity(firestore.OrFilter{Filters: []firestore.EntityFilter{
					firestore.PropertyFilter{Path: "x", Operator: "==", Value: 1},
					firestore.PropertyFilter{Path: "y", Operator: "==", Value: 1},
				}}).OrderBy("q", firestore.Asc))
			},
			codes.FailedPrecondition, `{"fieldPath":"y","order":"ASCENDING"},{"fieldPath":"q","order":"ASCENDING"}`},
		{"an invalid query is INVALID_ARGUMENT first", true, "",
			func(c *firestore.Client) query {
				return docs(items(c).Where("x", "==", 1).OrderBy("q", firestore.Asc).Offset(-1))
			},
			codes.InvalidArgument, "offset must be greater than or equal to zero"},
	}
	for _, durable := range []bool{false, true} {
		mode := "memory"
		if durable {
			mode = "disk"
		}
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				c := indexedClient(t, durable, tt.check, tt.json)
				ctx := context.Background()
				if _, err := items(c).Doc("a").Set(ctx, map[string]any{"x": 1, "q": "b", "y": 1}); err != nil {
					t.Fatal(err)
				}
				err := tt.run(c)(ctx, c)
				wantCode(t, err, tt.wantCode)
				if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("error %q lacks %s", err, tt.wantMsg)
				}
			})
		}
	}
}

// TestIndexCheckInATransaction: a query without its index fails inside a transaction too, and
// the transaction then commits nothing.
func TestIndexCheckInATransaction(t *testing.T) {
	t.Parallel()
	c := indexedClient(t, false, true, "")
	ctx := context.Background()
	doc := c.Collection("items").Doc("a")
	err := c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if _, err := tx.Documents(c.Collection("items").Where("x", "==", 1).OrderBy("q", firestore.Asc)).GetAll(); err != nil {
			return err
		}
		return tx.Set(doc, map[string]any{"x": 1})
	})
	wantCode(t, err, codes.FailedPrecondition)
	mustNotExist(t, doc)
}

func TestStartRefusesAnInvalidDeclaration(t *testing.T) {
	t.Parallel()
	_, err := emulator.Start(context.Background(), emulator.Options{InMemory: true, CheckIndexes: true,
		Indexes: &index.File{Indexes: []index.Index{{CollectionGroup: "items", QueryScope: "COLLECTION"}}}})
	if err == nil || !strings.Contains(err.Error(), "indexes[0] has 0 fields") {
		t.Fatalf("Start: %v, want the declaration refused", err)
	}
}

// TestIndexCheckOfListenTargets: a snapshot listener on a query without its index fails as
// production's does, and listens once the index is declared.
func TestIndexCheckOfListenTargets(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		json     string
		wantCode codes.Code
	}{
		{"no index", "", codes.FailedPrecondition},
		{"the index declared", xqFile, codes.OK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := indexedClient(t, false, true, tt.json)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := c.Collection("items").Doc("a").Set(ctx, map[string]any{"x": 1, "q": "b"}); err != nil {
				t.Fatal(err)
			}
			it := c.Collection("items").Where("x", "==", 1).OrderBy("q", firestore.Asc).Snapshots(ctx)
			defer it.Stop()
			snap, err := it.Next()
			wantCode(t, err, tt.wantCode)
			if tt.wantCode == codes.OK && snap.Size != 1 {
				t.Fatalf("first snapshot has %d documents, want 1", snap.Size)
			}
			if tt.wantCode != codes.OK && !strings.Contains(err.Error(), xqIndex) {
				t.Fatalf("error %q does not name the index", err)
			}
		})
	}
}
