package telemetry_test

import (
	"context"
	"testing"

	"github.com/tally-dev/tally/internal/telemetry"
)

// TestResource: the resource names the service as Options say, unless OTEL_SERVICE_NAME says
// otherwise, and carries OTEL_RESOURCE_ATTRIBUTES; Prometheus shows it as target_info.
func TestResource(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{"from options", nil, map[string]string{"service_name": "tallyd", "service_version": "1.2.3"}},
		{"from the environment", map[string]string{"OTEL_SERVICE_NAME": "counters-eu", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod"},
			map[string]string{"service_name": "counters-eu", "service_version": "1.2.3", "deployment_environment_name": "prod"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tel, err := telemetry.Setup(context.Background(), telemetry.Options{ServiceVersion: "1.2.3"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
			if got := series(scrapeHandler(t, tel.MetricsHandler()), "target_info", tt.want); len(got) != 1 {
				t.Errorf("no target_info with %v", tt.want)
			}
		})
	}
}
