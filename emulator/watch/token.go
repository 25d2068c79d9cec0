package watch

import "encoding/binary"

// A resume token is the commit time (µs) up to which the client's view was exact, behind a
// version byte so that a token from elsewhere is recognised as unusable rather than misread.
const tokenVersion = 1

func encodeToken(us int64) []byte {
	b := make([]byte, 9)
	b[0] = tokenVersion
	binary.BigEndian.PutUint64(b[1:], uint64(us))
	return b
}

// decodeToken returns the time a token encodes, or false when the token is not one of ours.
func decodeToken(b []byte) (int64, bool) {
	if len(b) != 9 || b[0] != tokenVersion {
		return 0, false
	}
	us := int64(binary.BigEndian.Uint64(b[1:]))
	return us, us > 0
}
