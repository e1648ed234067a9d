#!/bin/sh
# parse-cost.sh [SIZE...]: the time and peak memory of `sluice validate` on
# pipeline files of each shape internal/yamlgen writes (an honest chain of
# tasks, deep nesting, wide maps and lists, aliases, many documents), at
# each size in bytes (default: 256 KiB and 1 MiB, the upload limit).
# Prints one Markdown table row per file: shape, size, seconds, peak RSS.
set -eu
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/sluice" ./cmd/sluice
go build -o "$dir/parsegen" ./bench/parsegen
sizes=${*:-262144 1048576}
shapes=$("$dir/parsegen" -list)
echo "| shape | bytes | seconds | peak RSS (MB) | outcome |"
echo "|---|---|---|---|---|"
for size in $sizes; do
	for shape in $shapes; do
		f="$dir/$shape.yaml"
		"$dir/parsegen" -shape "$shape" -size "$size" > "$f"
		# /usr/bin/time writes its line after the command's own output.
		/usr/bin/time -f "TIME %e %M" "$dir/sluice" validate "$f" >"$dir/out" 2>&1 || true
		set -- $(grep '^TIME' "$dir/out" | tail -1)
		first=$(grep -v '^TIME' "$dir/out" | head -1 | sed "s|$dir/||; s/|/\\\\|/g" | cut -c1-90)
		printf '| %s | %s | %s | %.0f | %s |\n' "$shape" "$(wc -c < "$f")" "$2" "$(awk -v kb="$3" 'BEGIN { print kb / 1024 }')" "$first"
	done
done
