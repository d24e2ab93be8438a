from django.dispatch import Signal

# Sent after a contributor's account is erased, once the transaction commits.
# Apps that hold the contributor's data (recordings, transcriptions) connect to it
# so this lowest app never imports them. Arguments: user_id, delete_recordings.
user_erased = Signal()
