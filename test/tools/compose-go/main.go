// Command compose-go is berth's oracle for Compose loading: it loads Compose
// files with compose-go (the loader `docker compose` itself uses), with the
// options `docker compose config --format json` passes, and prints the
// normalized project as JSON. test/unit/compose compares berth's loader with
// it. Errors go to stderr with exit status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

// repeated collects a flag given more than once (-f a -f b).
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var files, envFiles, profiles repeated
	var projectDir, projectName string
	flag.Var(&files, "f", "Compose file (repeatable, merged in order)")
	flag.Var(&envFiles, "env-file", "environment file (repeatable)")
	flag.Var(&profiles, "profile", "profile to enable (repeatable)")
	flag.StringVar(&projectDir, "project-directory", "", "project directory (default: the first file's directory)")
	flag.StringVar(&projectName, "p", "", "project name")
	flag.Parse()

	pwd, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	// The same option order as docker compose's ProjectOptions.toProjectOptions
	// (compose v2.3x): OS env first, then --env-file or the project's .env.
	options, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(projectDir),
		cli.WithOsEnv,
		cli.WithEnv([]string{"PWD=" + pwd}),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(profiles...),
		cli.WithName(projectName),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	raw, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	fmt.Println(string(raw))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err.Error())
	os.Exit(1)
}
