package emulator

import (
	"context"
	"fmt"
	"math"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ClientOptions connect the official Firestore client to an emulator at addr (host:port) the
// way FIRESTORE_EMULATOR_HOST does: plaintext gRPC, no Google credentials. Pass them to
// firestore.NewClient; closing the client closes the connection. dial may add options, such as
// a dialer for an in-process listener.
func ClientOptions(addr string, dial ...grpc.DialOption) ([]option.ClientOption, error) {
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(ownerToken{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	}, dial...)...)
	if err != nil {
		return nil, fmt.Errorf("emulator: connecting to %s: %w", addr, err)
	}
	return []option.ClientOption{option.WithGRPCConn(conn)}, nil
}

// ownerToken is the credential Firestore clients send to an emulator: emulators treat "owner" as
// an administrator, so security rules do not apply (this emulator enforces none anyway).
type ownerToken struct{}

func (ownerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (ownerToken) RequireTransportSecurity() bool { return false }
