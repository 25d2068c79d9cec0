// Package terraform holds tally's deployment to Google Cloud as Terraform (modules/tally, the
// module; examples/basic, a root configuration that uses it) and the Go code that reads it
// without Terraform or its providers: the index declaration both the module and the emulator
// read (Declared), and the environment and arguments the module gives tallyd's container on
// Cloud Run (CloudRunContainer) and what its variables' validations refuse (VariableErrors), so
// that cmd/tallyd's tests can compare them with its flags.
//
// Its tests check every .tf file against the Google provider's schema and the structure the
// deployment relies on (see the _test.go files); they need no network.
package terraform
