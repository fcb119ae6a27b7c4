terraform import zdd_rollout.web web
