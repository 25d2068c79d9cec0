package txn

import (
	"errors"
	"fmt"
)

// Kind classifies engine errors; the gRPC surface maps each kind to one status code.
type Kind int

// Error kinds, named after the Firestore status they become.
const (
	KindInvalidArgument    Kind = iota + 1 // the request is malformed; nothing was written
	KindNotFound                           // a precondition required the document to exist
	KindAlreadyExists                      // a precondition required the document not to exist
	KindFailedPrecondition                 // an update_time precondition did not hold, or a read is too old
	KindAborted                            // the transaction lost a conflict; retrying may succeed
	KindInternal                           // storage failed; the outcome of the call is unknown
)

// Error is an engine error with a kind and a message meant for the client.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, or 0 when err is not an engine error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// errTxnInvalid is answered for unknown, expired or finished transactions, as production does.
func errTxnInvalid() error {
	return errorf(KindInvalidArgument, "the referenced transaction has expired or is no longer valid")
}
