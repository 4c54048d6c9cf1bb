// bundle-validate loads an OLM bundle directory (manifests/ + metadata/) and runs the
// operator-framework/api validators on it: the default bundle validators plus OperatorHub.
// It prints every error and warning and exits 1 when any error is found.
package main

import (
	"fmt"
	"os"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bundle-validate <bundle-dir>")
		os.Exit(2)
	}
	bundle, err := manifests.GetBundleFromDir(os.Args[1])
	if err != nil {
		fmt.Printf("ERROR load: %v\n", err)
		os.Exit(1)
	}
	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubValidator,
		validation.ObjectValidator,
	)
	// The OperatorHub validator reads optional key=values from a map among the objects.
	objects := append(bundle.ObjectsToValidate(), map[string]string{"k8s-version": "1.30"})
	errCount, warnCount := 0, 0
	for _, result := range validators.Validate(objects...) {
		for _, e := range result.Errors {
			errCount++
			fmt.Printf("ERROR %s: %s\n", result.Name, describe(e))
		}
		for _, w := range result.Warnings {
			warnCount++
			fmt.Printf("WARN %s: %s\n", result.Name, describe(w))
		}
	}
	fmt.Printf("bundle %s: %d error(s), %d warning(s)\n", bundle.Name, errCount, warnCount)
	if errCount > 0 {
		os.Exit(1)
	}
}

func describe(e errors.Error) string {
	return e.Error()
}
