package emulator

import (
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
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	}, dial...)...)
	if err != nil {
		return nil, fmt.Errorf("emulator: connecting to %s: %w", addr, err)
	}
	return []option.ClientOption{option.WithGRPCConn(conn)}, nil
}
