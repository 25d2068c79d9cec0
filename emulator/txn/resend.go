package txn

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator/resource"
)

// A client whose Commit answer was lost sends the same Commit again: the official Go client's
// generated layer retries Commit on UNAVAILABLE, transactional ones included. Outside a
// transaction the re-send is simply a second commit. Inside one, the transaction has ended by the
// time the re-send arrives, so without help it would fail as "no longer valid" although its
// writes were applied (and a re-send that arrives while the first Commit is still running must
// not commit the transaction a second time: claim makes it wait for the first). The engine
// therefore remembers the transactions it committed recently, with a digest of their writes and
// their result, and answers a re-send with the same writes with the first result. What it
// remembers is bounded per database: two generations of at most committedPerGeneration
// transactions each, a generation retired after committedGeneration. So a re-send is recognised
// when it arrives within committedGeneration and within the next committedPerGeneration commits
// of its database, often longer. The client's Commit retries give up after 60 s.

const (
	committedPerGeneration = 4096
	committedGeneration    = 2 * time.Minute
)

// committedTxn is what a re-send of a committed transaction's Commit needs.
type committedTxn struct {
	digest writesDigest
	result *CommitResult // without WriteResult.Document, which would keep documents in memory
	ticket ticket        // the batch to wait for before answering; nil when there was none
}

// committedTxns remembers one database's recently committed transactions. Guarded by txnMu.
type committedTxns struct {
	cur, prev map[string]*committedTxn // by transaction id
	since     time.Time                // when cur was started
}

// recordCommitLocked remembers that transaction id of db committed. Caller holds txnMu.
func (e *Engine) recordCommitLocked(db resource.Database, id string, rec *committedTxn) {
	l := e.committed[db]
	if l == nil {
		l = &committedTxns{cur: map[string]*committedTxn{}, since: e.opts.Now()}
		e.committed[db] = l
	}
	l.cur[id] = rec
	if len(l.cur) >= committedPerGeneration {
		l.prev, l.cur, l.since = l.cur, map[string]*committedTxn{}, e.opts.Now()
	}
}

// ageCommittedLocked retires generations older than committedGeneration, and forgets databases
// with nothing left to remember. Caller holds txnMu.
func (e *Engine) ageCommittedLocked(now time.Time) {
	for db, l := range e.committed {
		if now.Sub(l.since) < committedGeneration {
			continue
		}
		if len(l.cur) == 0 {
			delete(e.committed, db)
			continue
		}
		l.prev, l.cur, l.since = l.cur, map[string]*committedTxn{}, now
	}
}

// resent answers a Commit of transaction id of db that is not live: with the first result when
// the transaction committed recently with the same writes, once that commit is durable; with
// today's "no longer valid" error otherwise (production may answer a re-send so too, which is why
// callers that must not apply twice read back what they wrote).
func (e *Engine) resent(ctx context.Context, db resource.Database, id []byte, writes []Write) (*CommitResult, error) {
	e.txnMu.Lock()
	var rec *committedTxn
	if l := e.committed[db]; l != nil {
		if rec = l.cur[string(id)]; rec == nil {
			rec = l.prev[string(id)]
		}
	}
	e.txnMu.Unlock()
	if rec == nil || !rec.digest.ok {
		return nil, errTxnInvalid()
	}
	if d := digestOf(writes); !d.ok || d.sum != rec.digest.sum {
		return nil, errTxnInvalid()
	}
	if rec.ticket != nil {
		if err := waitTicket(ctx, rec.ticket); err != nil {
			if KindOf(err) == KindInternal {
				e.fail(err)
			}
			return nil, err
		}
	}
	res := *rec.result
	res.Results = append([]WriteResult(nil), rec.result.Results...)
	return &res, nil
}

// resendResult is res as a re-send is answered: the same, without the documents.
func resendResult(res *CommitResult) *CommitResult {
	out := &CommitResult{CommitTime: res.CommitTime, Results: make([]WriteResult, len(res.Results))}
	for i, r := range res.Results {
		out.Results[i] = WriteResult{UpdateTime: r.UpdateTime, TransformResults: r.TransformResults}
	}
	return out
}

// writesDigest identifies a Commit's writes; ok is false when they could not be encoded, and then
// nothing matches them.
type writesDigest struct {
	sum [sha256.Size]byte
	ok  bool
}

// digestOf hashes everything a write consists of, each part length-prefixed so that different
// writes cannot encode alike. Values are encoded deterministically, so equal maps hash equally.
func digestOf(writes []Write) writesDigest {
	h := sha256.New()
	var buf []byte
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	num := func(n uint64) { buf = binary.AppendUvarint(buf, n) }
	flag := func(b bool) {
		if b {
			num(1)
		} else {
			num(0)
		}
	}
	mo := proto.MarshalOptions{Deterministic: true}
	var enc []byte
	msg := func(m proto.Message) bool {
		var err error
		if enc, err = mo.MarshalAppend(enc[:0], m); err != nil {
			return false
		}
		num(uint64(len(enc)))
		buf = append(buf, enc...)
		return true
	}
	num(uint64(len(writes)))
	h.Write(buf)
	buf = buf[:0]
	for i := range writes {
		w := &writes[i]
		num(uint64(len(w.Path)))
		for _, seg := range w.Path {
			str(seg)
		}
		flag(w.Delete)
		if !msg(&pb.MapValue{Fields: w.Fields}) {
			return writesDigest{}
		}
		flag(w.HasMask)
		num(uint64(len(w.Mask)))
		for _, p := range w.Mask {
			num(uint64(len(p)))
			for _, seg := range p {
				str(seg)
			}
		}
		num(uint64(len(w.Transforms)))
		for _, ft := range w.Transforms {
			num(uint64(len(ft.Path)))
			for _, seg := range ft.Path {
				str(seg)
			}
			if !msg(ft.Transform) {
				return writesDigest{}
			}
		}
		flag(w.Exists != nil)
		if w.Exists != nil {
			flag(*w.Exists)
		}
		num(uint64(w.UpdateTime))
		h.Write(buf)
		buf = buf[:0]
	}
	var d writesDigest
	h.Sum(d.sum[:0])
	d.ok = true
	return d
}
