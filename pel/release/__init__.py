"""The model-release workflow: `pel diff` with semver advice, `pel init` scaffolding, `pel lint`, `pel assumptions`."""
