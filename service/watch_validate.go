package service

import (
	"time"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// validateWatch returns the counter id and the requested interval (0: the server's default;
// the core raises one below its minimum).
func validateWatch(req *tallyv1.WatchCounterRequest) (id string, minInterval time.Duration, err error) {
	if id, err = parseName("name", req.GetName()); err != nil {
		return "", 0, err
	}
	d := req.GetMinInterval()
	if d == nil {
		return id, 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return "", 0, invalid("min_interval", "is not a valid duration: %v", err)
	}
	if minInterval = d.AsDuration(); minInterval < 0 {
		return "", 0, invalid("min_interval", "is %v; it must not be negative", minInterval)
	}
	return id, minInterval, nil
}
