// Package service implements tally's CounterService gRPC API on top of the sharding core.
package service
