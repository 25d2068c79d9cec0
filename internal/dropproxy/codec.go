package dropproxy

import (
	"fmt"

	"google.golang.org/grpc/encoding"
)

// frame is one message as it travels, unparsed.
type frame []byte

// rawCodec moves frames without parsing them. It is named "proto" so that the content type on
// both legs stays application/grpc+proto.
type rawCodec struct{}

var _ encoding.Codec = rawCodec{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("dropproxy: cannot marshal %T", v)
	}
	return *f, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("dropproxy: cannot unmarshal into %T", v)
	}
	*f = append((*f)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
