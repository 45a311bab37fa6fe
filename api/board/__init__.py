"""The Scrum board: sprints, tasks and users over REST."""
