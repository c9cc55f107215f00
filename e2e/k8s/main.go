// Command k8s is kube-apiserver, kube-scheduler and kube-controller-manager in one binary, so the
// e2e tier compiles their shared dependencies once and links once. The component is the basename of
// argv[0] (kube-apiserver -> k8s, as a symlink) or, failing that, the first argument:
//
//	k8s kube-apiserver --etcd-servers=...
//
// Each branch is what the component's own cmd/<name>/main.go does in k8s.io/kubernetes.
// e2e/build.py copies this file into a generated module (one per Kubernetes release); it is not
// built in place.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // kube-apiserver and kube-controller-manager import it for CronJob time zones

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

var components = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
}

func main() {
	name, args := filepath.Base(os.Args[0]), os.Args[1:]
	if _, ok := components[name]; !ok && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	newCommand, ok := components[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: k8s kube-apiserver|kube-scheduler|kube-controller-manager [flags]")
		os.Exit(2)
	}
	command := newCommand()
	command.SetArgs(args)
	os.Exit(cli.Run(command))
}
