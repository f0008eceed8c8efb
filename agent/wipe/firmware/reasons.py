"""Why a firmware erase counts or not, in words shared by every interface.

Each message is an untranslated id: the report keeps it as it is and the screens show it through
`_()`. Anything the drive said goes into `Transition.detail`, never into these sentences.
"""

from __future__ import annotations

from agent.i18n import N_

TOOL_MISSING = N_("The program needed for this erase is not installed on the stick.")
COMMAND_REFUSED = N_("The drive refused the erase command.")
ALREADY_RUNNING = N_(
    "An erase was already running inside the drive, so a new one could not be started; "
    "wait until it ends and check the drive again."
)

SEEN_IN_PROGRESS = N_("The drive reported the erase in progress, then finished it with success.")
FINISHED_BEFORE_FIRST_LOOK = N_(
    "The drive finished before it could be seen in progress; its status shows that this erase "
    "completed and that all user data was erased."
)
SUCCESS_NOT_PROVEN = N_(
    "The drive reports success, but the erase was never seen in progress and its status cannot "
    "show that this erase ran."
)
NEVER_STARTED = N_(
    "The drive accepted the command but never reported an erase in progress or finished."
)
ENDED_WITHOUT_SUCCESS = N_("The erase stopped without the drive reporting success.")
REPORTED_FAILED = N_("The drive reported that the erase failed.")
FROZEN = N_("The drive is frozen: it refuses erase commands until it is powered off and on.")
TIMED_OUT = N_(
    "The drive did not finish the erase in the time allowed; it may still be erasing and will "
    "refuse reads until it ends."
)
STATUS_UNREADABLE = N_("The drive's erase status could not be read, so the erase is not confirmed.")
UNEXPECTED_ERROR = N_("The erase stopped on an unexpected error.")
