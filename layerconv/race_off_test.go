//go:build !race

package layerconv

const raceEnabled = false
