# getmail6's ForkingBase.forkchild forks, then installs its SIGCHLD handler,
# then waits on a Condition that the handler notifies. A child that exits
# before the handler is installed, or whose SIGCHLD is handled before the
# parent waits, is never noticed: the parent waits out the socket timeout.
# Usage: getmail_fork_race.py PARENT_DELAY_SECONDS. The delay after fork
# stands in for a parent descheduled on a busy machine.
import os, socket, sys, time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import getmailcore.baseclasses as bc
import getmailcore.logging

delay = float(sys.argv[1])
socket.setdefaulttimeout(1)  # getmail's wait for the child
real_fork = os.fork


def fork_then_pause():
    pid = real_fork()
    if pid != 0:
        time.sleep(delay)
    return pid


bc.os.fork = fork_then_pause


class Forker(bc.ForkingBase):
    log = getmailcore.logging.Logger()


try:
    Forker().forkchild(lambda out, err: os._exit(0))
    print("reaped")
except Exception as e:
    print("lost: %s" % e)
