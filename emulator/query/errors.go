package query

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error that rejects a query or aggregation as malformed or
// unsupported; the message names the part of the request at fault.
var ErrInvalid = errors.New("invalid query")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
