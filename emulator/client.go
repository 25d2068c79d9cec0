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
// firestore.NewClient; closing the client closes the connection.
func ClientOptions(addr string) ([]option.ClientOption, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	)
	if err != nil {
		return nil, fmt.Errorf("emulator: connecting to %s: %w", addr, err)
	}
	return []option.ClientOption{option.WithGRPCConn(conn)}, nil
}
