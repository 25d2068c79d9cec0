#!/usr/bin/env bash
# Runs the module's variable validations in real Terraform (plan of variables.tf alone, which
# needs no provider), for a few values each way, so that a condition Terraform evaluates
# differently from the Go tests' evaluator (terraform/eval.go) fails CI.
# Usage: terraform/check-validations.sh PATH-TO-TERRAFORM
set -euo pipefail
terraform=$1
module="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/modules/tally"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$module/variables.tf" "$dir/"
cd "$dir"
"$terraform" init -input=false -no-color >/dev/null

# variable=value, and whether Terraform must accept it.
cases=(
  'key_retention=24h ok'      'key_retention=1h30m ok'   'key_retention=60000ms ok'
  'key_retention=30s refuse'  'key_retention=0.5m refuse' 'key_retention=2562048h refuse' 'key_retention=24 refuse'
  'extra_env={ TALLY_MAX_CONCURRENT_CALLS = "2048" } ok'
  'extra_env={ TALLY_ADDR = "0.0.0.0:1" } refuse'      'extra_env={ FIRESTORE_EMULATOR_HOST = "h:1" } refuse'
  'min_instances=-1 refuse'   'cpu=3 refuse'              'cpu=500m ok'
  'invoker_members=["allUsers"] refuse'
)
failed=0
for c in "${cases[@]}"; do
  want=${c##* }
  assignment=${c% *}
  if "$terraform" plan -input=false -no-color -lock=false \
    -var project_id=my-project -var region=europe-west1 -var database_location=eur3 \
    -var image=europe-west1-docker.pkg.dev/my-project/tally/tallyd:v1 -var "$assignment" >plan.log 2>&1; then
    got=ok
  elif grep -q 'Error: Invalid value for variable' plan.log; then
    got=refuse # a validation refused it, or it is not of the variable's type
  else
    got="a plan that failed for another reason" # e.g. a variable renamed away: not a refusal
  fi
  if [[ $got != "$want" ]]; then
    echo "terraform plan with $assignment: $got, want $want" >&2
    cat plan.log >&2
    failed=1
  fi
done
exit $failed
