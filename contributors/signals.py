from django.dispatch import Signal

# Sent after a contributor's account is erased, once the transaction commits.
# Apps that hold the contributor's data (recordings, transcriptions) connect to it
# so this lowest app never imports them. Arguments: user_id, delete_recordings.
user_erased = Signal()

# Sent after an admin blocks or unblocks contributors, once the transaction
# commits: a blocked contributor's transcriptions stop counting, so the apps
# that decide chunks re-examine the ones they touched. Arguments: user_ids,
# blocked (True when blocked, False when unblocked).
user_blocked = Signal()
