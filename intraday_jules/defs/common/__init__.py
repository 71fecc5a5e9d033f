"""What several ``defs/<area>`` slices share: partitions, asset keys and job names, resources."""
