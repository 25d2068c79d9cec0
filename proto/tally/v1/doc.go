// Package tallyv1 is the generated Go API of tally.v1: the CounterService gRPC client and server and their messages.
package tallyv1

//go:generate bash ../../generate.sh
