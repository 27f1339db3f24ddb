"""Many coins' models at once: sequential, batched, Ray tasks and Ray Tune trials."""
